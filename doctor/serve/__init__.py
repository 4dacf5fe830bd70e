"""The support desk (``diagnose serve``): a web page to paste a log into, a history of diagnoses, a JSON API.

``app`` is the Starlette application and its pages, ``workers`` runs diagnoses in bounded, time-limited worker
processes, ``history`` keeps them in SQLite. Starlette, uvicorn and python-multipart come with the ``serve``
extra; nothing here is imported by the rest of the command line.
"""
