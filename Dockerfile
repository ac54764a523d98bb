# One image for every role (migrate, worker, beat, web); compose.yaml picks the command.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY newsletter newsletter
COPY workers workers
COPY templates templates
COPY migrations migrations
RUN pip install --no-cache-dir -e . && useradd --create-home app
USER app
CMD ["newsletter", "--help"]
