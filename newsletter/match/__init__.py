"""Match: which of the week's papers each reader gets, best first, and why.

`engine` scores topics, authors and categories against a week's papers; `interests` types
what a reader follows; `vocabulary` reads the curated terms (vocabulary.toml); `semantic`,
`bert` and `checkpoint` are the models that match by meaning.
"""
