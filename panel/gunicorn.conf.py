"""gunicorn settings of the panel (`gunicorn -c panel/gunicorn.conf.py panel.wsgi`).

The access log writes each request line, query string included, and v2 clients may send their API key
there: every line gunicorn logs, access and error alike, goes through panel.logging.MaskSecrets.
"""

from gunicorn.glogging import Logger

from panel.logging import MaskSecrets

_MASK_SECRETS = MaskSecrets()


class MaskingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        # On the loggers rather than their handlers: gunicorn replaces the handlers when it reopens its
        # log files, and a filter already present is not added twice.
        self.error_log.addFilter(_MASK_SECRETS)
        self.access_log.addFilter(_MASK_SECRETS)


logger_class = MaskingLogger
