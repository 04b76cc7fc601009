"""Servers written plainly, as people do, to measure the project's server against.

Each speaks the same wire format through protocol/, takes one `--listen URL`
(seed:// or frame://), prints `ready listener=URL` once listening, and uses the
standard library only, so it runs in the same base image as the project's server.
"""
