# bench only: the project's server image plus uvloop, unpacked from its PyPI wheel
# on the host (the image has no pip). Built by bench/images.py; removed after the run.
ARG SERVER_IMAGE=socket-harness/server:local
FROM ${SERVER_IMAGE}
ARG SITE_PACKAGES
COPY site/ ${SITE_PACKAGES}/
