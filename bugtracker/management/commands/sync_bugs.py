"""`python manage.py sync_bugs`: search Bugzilla now and store the known bugs."""

from django.core.management.base import BaseCommand, CommandError

from bugtracker import sync


class Command(BaseCommand):
    help = "Search Bugzilla for this service's bugs now (BUGTRACKER_URL, BUGTRACKER_API_KEY)."

    def handle(self, *args, **options):
        if not sync.enabled():
            raise CommandError("Bugzilla is off: BUGTRACKER_URL is empty.")
        state = sync.sync(force=True)
        if state is None:
            raise CommandError("Another sync is running; try again later.")
        if not state["ok"]:
            raise CommandError(f"Bugzilla sync failed: {state['error']}")
        self.stdout.write(f"{state['bugs']} bug(s) from {sync.whiteboard_query()!r}.")
