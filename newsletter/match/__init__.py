"""Match: which of the week's papers each reader gets, best first, and why.

`engine` scores topics, authors and categories against a week's papers; `interests` types
what a reader follows; `vocabulary` is the curated list of terms that mean the same thing.
"""
