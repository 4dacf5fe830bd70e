"""nnunet-doctor: tells nnU-Net v2 users why a run failed and exactly how to fix it.

The data flows one way: probes establish facts, the engine applies the YAML rules, the report renders
ranked causes. ``diagnose`` is the command line; :func:`nnunet_doctor.pipeline.run_diagnosis` the API.
"""
__version__ = "0.1.0"
