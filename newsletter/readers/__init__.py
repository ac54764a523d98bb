"""Readers: every write of a reader (subscribe, opt-in, topics, schedule, bounces, remove),
the queries about them (who is active, who is due, popular topics) and their signed links.

`validate` checks what a reader or operator typed; `store` is the only module that reads or
writes the subscriber table; `optin` is the double opt-in; `links` signs the links in mail;
`suggestions` picks the topics the subscribe page may show to strangers.
"""
