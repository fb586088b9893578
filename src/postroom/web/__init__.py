"""The console: server-rendered pages (Jinja2) with htmx for the parts that update in place."""
