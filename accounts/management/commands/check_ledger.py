from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import ledger_problems


class Command(BaseCommand):
    help = "Verify the money invariants; exits non-zero and names the rows when any is broken."

    def handle(self, *args, **options):
        problems = ledger_problems()
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"{len(problems)} ledger problem(s) found")
        self.stdout.write("Ledger OK: every balance equals its ledger, none below zero, no double charge or refund.")
