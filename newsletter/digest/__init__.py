"""Digest: a reader's picks made into an email. `compose` builds one reader's digest from
the issue's shared state; `render` is Jinja and MJML; `message` assembles the MIME bytes.
"""
