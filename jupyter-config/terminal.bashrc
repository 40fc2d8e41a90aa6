# Read by bash in JupyterLab's terminals instead of ~/.bashrc (see jupyter_server_config.py).
# ~/.bashrc first, as in any terminal; the workbook's environment last, so that nothing in
# ~/.bashrc (a conda base, another venv) hides its python3, connexion and pytest.
workbook_venv="${VIRTUAL_ENV:-}"
if [ -f "$HOME/.bashrc" ]; then
    . "$HOME/.bashrc"
fi
if [ -n "$workbook_venv" ] && [ -f "$workbook_venv/bin/activate" ]; then
    . "$workbook_venv/bin/activate"
fi
unset workbook_venv
