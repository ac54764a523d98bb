"""The email and web templates; shipped inside the wheel as `newsletter.templates`."""
