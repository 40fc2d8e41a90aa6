# Sourced by docker-stacks' start.sh just before JupyterLab (or jupyterhub-singleuser) starts,
# as root or as the notebook user. Installed by the Dockerfile into /usr/local/bin/before-notebook.d/.
#
# 1. The learner's work lives in ${HOME}/notebooks, which a JupyterHub volume may replace with an
#    empty or older folder: copy in every starter file it lacks, never overwriting the learner's.
# 2. Outside JupyterHub, relay the lessons' API ports from the container's address to 127.0.0.1,
#    where `connexion run` listens, so `docker run -p 5000:5000` reaches it (docker/relay.py).

workbook_home="${WORKBOOK_HOME:-${HOME}/notebooks}"
mkdir -p "${workbook_home}"
cp -R -n "${WORKBOOK_DIR}/starter-notebooks/." "${workbook_home}/"
# Lesson 1 runs `python3 ../workbook.py check` from the notebooks folder: put the workbook's there.
if [ ! -e "${workbook_home}/../workbook.py" ]; then
    ln -s "${WORKBOOK_DIR}/workbook.py" "${workbook_home}/../workbook.py"
fi
if [ "$(id -u)" = 0 ] && [ -n "${NB_UID:-}" ]; then
    chown -R "${NB_UID}:${NB_GID:-100}" "${workbook_home}"
fi

if [ -z "${JUPYTERHUB_API_TOKEN:-}" ] && [ -n "${WORKBOOK_RELAY_PORTS:-}" ]; then
    # Word splitting is wanted: the variable holds a space-separated list of ports.
    # shellcheck disable=SC2086
    python "${WORKBOOK_DIR}/docker/relay.py" ${WORKBOOK_RELAY_PORTS} &
fi
unset workbook_home
