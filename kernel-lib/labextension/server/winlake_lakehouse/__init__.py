"""Jupyter server extension behind winlake's Lakehouse panel.

It answers the panel with the output of the ``winlake`` CLI (``table list --json`` and
``table describe``) for the lakehouse in ``WINLAKE_HOME``, the one ``npm run lab`` gives the
notebook kernels. It never reads the Delta log itself.
"""

from .handlers import setup_handlers


def _jupyter_server_extension_points():
    return [{"module": "winlake_lakehouse"}]


def _load_jupyter_server_extension(server_app):
    setup_handlers(server_app.web_app)
    server_app.log.info("winlake_lakehouse: serving /winlake/tables from the winlake CLI")
