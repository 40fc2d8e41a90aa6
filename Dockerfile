# Classroom image of the resilient-API workbook.
#
#   docker build -t resilient-api-workbook .
#   docker run --rm -p 8888:8888 -p 5000:5000 -p 8080:8080 resilient-api-workbook
#
# JupyterLab opens at the learner's notebooks/ (~/notebooks, filled from the image on
# first start); `connexion run` in its terminal answers on the host at
# http://localhost:5000/ui/ (or 8080). It runs as the non-root user jovyan and, being a
# Jupyter docker-stacks image, works as a JupyterHub single-user image
# (jupyterhub-singleuser is started when JupyterHub spawns it).
#
# Build arguments: SOLUTIONS=exclude leaves solutions/ out of the image (for a graded class).

# Pinned by date: Python 3.11 (the version requirements.txt was locked on), Ubuntu 22.04.
FROM quay.io/jupyter/base-notebook:2024-03-31 AS base

# -- the repository, as it will be installed -----------------------------------------------
FROM base AS source
ARG SOLUTIONS=include
# A throw-away stage (only /tmp/workbook is kept), so root may rearrange the copy freely.
# hadolint ignore=DL3002
USER 0
COPY --chown=${NB_UID}:${NB_GID} . /tmp/workbook
RUN if [ "${SOLUTIONS}" = "exclude" ]; then rm -rf /tmp/workbook/solutions; fi \
    && mv /tmp/workbook/notebooks /tmp/workbook/starter-notebooks

# -- the classroom image ------------------------------------------------------------------
FROM base
ENV WORKBOOK_DIR=/opt/workbook \
    WORKBOOK_RELAY_PORTS="5000 8080" \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# The workbook's own Jupyter settings, as `workbook.py lab` uses them: terminals open in the learner's
# notebooks/, and JupyterLab neither asks about news nor checks for updates.
ENV JUPYTER_CONFIG_PATH=${WORKBOOK_DIR}/jupyter-config
# Lesson 1's `python3 ../workbook.py check` from ~/notebooks: the hook links ~/workbook.py to the
# workbook's, which then uses the image's Python (it already has the locked requirements), not a .venv.
ENV WORKBOOK_USE_CURRENT_PYTHON=1

USER 0
RUN install -d -o "${NB_UID}" -g "${NB_GID}" "${WORKBOOK_DIR}"
COPY docker/before-notebook.sh /usr/local/bin/before-notebook.d/50-workbook.sh

# NB_UID is the base image's numeric id of jovyan (1000); hadolint cannot see through the variable.
# hadolint ignore=DL3066
USER ${NB_UID}
# The locked requirements first, so editing the lessons does not reinstall them.
COPY --chown=${NB_UID}:${NB_GID} requirements.txt ${WORKBOOK_DIR}/requirements.txt
RUN pip install --no-cache-dir -r "${WORKBOOK_DIR}/requirements.txt" \
    && fix-permissions "${CONDA_DIR}"

# Editable, as workbook.py installs it: checker/reference/*.yaml is read from the source tree.
# /opt/workbook/notebooks points at the learner's folder, so `pytest checker/` run from
# /opt/workbook grades the learner's work, as it does in a clone.
COPY --from=source --chown=${NB_UID}:${NB_GID} /tmp/workbook ${WORKBOOK_DIR}
RUN pip install --no-cache-dir --no-deps -e "${WORKBOOK_DIR}" \
    && ln -s "/home/${NB_USER}/notebooks" "${WORKBOOK_DIR}/notebooks" \
    && fix-permissions "${CONDA_DIR}"

# JupyterLab, then the ports the lessons serve the learner's API on (`connexion run`: 5000, or --port 8080).
EXPOSE 8888 5000 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/etc/jupyter/docker_healthcheck.py"]
WORKDIR /home/${NB_USER}
CMD ["start-notebook.sh", "--ServerApp.root_dir=/home/jovyan/notebooks"]
