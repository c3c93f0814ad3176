"""The technician dashboard: a web server (server.py, app.py) and its static page (static/)."""
