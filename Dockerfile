# llm-exporter container image: `docker build -t llm-exporter .` from the repository root.
# The build stage installs the package into a virtual environment; the runtime stage copies only that
# environment, so no compiler, pip cache or source tree ends up in the image.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
RUN python -m venv /opt/llm-exporter
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN /opt/llm-exporter/bin/pip install --no-cache-dir --disable-pip-version-check .

FROM ${PYTHON_IMAGE}
# A fixed numeric uid lets Kubernetes' runAsNonRoot verify the user without reading /etc/passwd.
RUN groupadd --system --gid 10117 llm-exporter \
    && useradd --system --uid 10117 --gid 10117 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin llm-exporter
COPY --from=build /opt/llm-exporter /opt/llm-exporter
ENV PATH=/opt/llm-exporter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10117:10117
EXPOSE 10117
# The slim image has no curl; Python's urllib is enough. A non-2xx answer or no answer raises, exiting 1.
# If you move the exporter off :10117 with --web.listen-address, override this check too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:10117/-/healthy', timeout=4)"]
ENTRYPOINT ["llm-exporter"]
