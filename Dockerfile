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
EXPOSE 8000
CMD ["gunicorn", "-c", "panel/gunicorn.conf.py", "panel.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
