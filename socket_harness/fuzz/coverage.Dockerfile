# make fuzz only: the project's server image plus coverage.py, unpacked from its pinned
# PyPI wheel on the host (the image has no pip), the way bench/uvloop.Dockerfile adds
# uvloop. The server runs under `coverage run`; SIGTERM drains it, and its exit saves
# the data to /coverage (a host directory). The shipped images stay standard-library only.
ARG SERVER_IMAGE=socket-harness/server:local
FROM ${SERVER_IMAGE}
ARG SITE_PACKAGES
COPY site/ ${SITE_PACKAGES}/
COPY coveragerc /etc/socket-harness/coveragerc
ENV COVERAGE_DATA_DIR=/coverage COVERAGE_RCFILE=/etc/socket-harness/coveragerc
ENTRYPOINT ["python3", "-m", "coverage", "run", "-m", "socket_harness.server"]
