"""The steps behind `python3 build.py build | verify | serve`: small modules, standard library only."""
