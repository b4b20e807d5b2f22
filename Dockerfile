FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY panel panel
COPY accounts accounts
COPY providers providers
COPY orders orders
RUN pip install --no-cache-dir .
COPY . .
# Not root: Celery warns against running as root, and no process here needs it. data/ (static files, the
# beat schedule's default place) is the one folder it writes.
RUN useradd --system --uid 10001 --home-dir /app panel && mkdir -p /app/data && chown -R panel /app/data
USER panel
EXPOSE 8000
CMD ["gunicorn", "-c", "panel/gunicorn.conf.py", "panel.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
