"""The digital twin of the lab cell: PyBullet bodies, process models, hidden truth, faults, sim time.

One process owns the world (`powderlab.twin.server.TwinServer`, run by `powderlab.nodes.twin_node`);
the sim drivers (`powderlab.drivers.sim`) talk to it over a local socket. See ADR 0020.
"""
