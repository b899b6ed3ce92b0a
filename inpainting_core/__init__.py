"""The inpainting core: plain Python that turns a map, a mask and a wish into a
repainted map.

Reading untrusted pictures (`imaging.py`), masks (`masks.py`), cutting out and
putting back (`compositing.py`), refusals (`problems.py`), wishes and prompts (`wishes.py`, `prompts.py`,
`styles.py`, `translation.py`, `glossary.py`), the land-cover vocabulary
(`landcover.py`), the engines and their registry (`engines/`), the model files
on disk (`model_store.py`), the one shape of a generation's settings
(`generation.py`) and the crop → engine → composite pipeline (`pipeline.py`).

It is the bottom layer: it knows no database model, no worker, no websocket
and no other package of this project, only Django's settings, translation and
cache. Everything above may use it; `pyproject.toml`'s import contracts keep it
so. It is not a Django app: it has no models, and its messages are in the
project's catalogue (`locale/`).
"""
