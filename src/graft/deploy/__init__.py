"""Shipping a run: export to ONNX or TorchScript with a parity check and a sidecar, and
prediction through onnxruntime.

Importing this package loads nothing: :mod:`graft.deploy.onnx_session` (numpy and
onnxruntime only) runs exported graphs; :mod:`graft.deploy.export` writes them.
"""
