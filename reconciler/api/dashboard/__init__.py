"""The status dashboard served by the daemon at `/`: server-rendered pages (Jinja2), a small
stylesheet and script with no external assets, and the live event stream the pages follow.
Nothing here imports the web framework; `api.app` turns these pages into routes."""
