# One image for every role (migrate, worker, beat, web); compose.yaml picks the command.
# The first stage builds the wheel (templates, migrations and sample papers inside it);
# the image installs that wheel, as a user would, not the source tree.
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir build==1.6.1 && python -m build --wheel --outdir /dist

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir /tmp/dist/*.whl && rm -rf /tmp/dist && useradd --create-home app
USER app
WORKDIR /home/app
CMD ["newsletter", "--help"]
