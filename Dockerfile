# One image for every role (migrate, worker, beat, web); compose.yaml picks the command.
# The first stage builds the wheel (templates, migrations and sample papers inside it) with
# the locked, hash-checked build tools; the image installs the locked runtime set, each file
# checked against its hash, then that wheel alone, as a user would, not the source tree.
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir --no-deps --require-hashes -r requirements-dev.lock \
    && python -m build --wheel --no-isolation --outdir /dist

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY requirements.lock /tmp/requirements.lock
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir --no-deps --require-hashes -r /tmp/requirements.lock \
    && pip install --no-cache-dir --no-deps /tmp/dist/*.whl \
    && rm -rf /tmp/dist /tmp/requirements.lock && useradd --create-home app
USER app
WORKDIR /home/app
CMD ["newsletter", "--help"]
