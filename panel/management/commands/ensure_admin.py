import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from panel.settings import DATA_DIR

CREDENTIALS_FILE = DATA_DIR / "admin-credentials.txt"


class Command(BaseCommand):
    help = "Create the admin account on first run and print its credentials (kept in data/)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, username, host, port, **options):
        user_model = get_user_model()
        if not user_model.objects.filter(username=username).exists():
            password = secrets.token_urlsafe(12)
            user_model.objects.create_superuser(username=username, email="", password=password)
            CREDENTIALS_FILE.write_text(f"{username}\n{password}\n")
        if CREDENTIALS_FILE.exists():
            name, password = CREDENTIALS_FILE.read_text().split()[:2]
            self.stdout.write(f"Admin login: http://{host}:{port}/admin/  user: {name}  password: {password}")
        else:
            self.stdout.write(f"Admin user {username!r} exists (password set earlier, not stored here).")
