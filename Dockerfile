FROM python:3.13-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pimsy_messaging ./pimsy_messaging
COPY clients ./clients
COPY messaging ./messaging
COPY bounces ./bounces
RUN pip install .
COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput -v0 \
 && useradd --system --uid 1000 pimsy && mkdir -p /app/var && chown -R pimsy /app/var
USER pimsy
EXPOSE 8000
CMD ["gunicorn", "pimsy_messaging.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
