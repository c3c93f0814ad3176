"""Protocol emulators: the lab's devices as servers that speak the real protocols.

OPC UA (arms after the OPC UA Robotics companion specification, a PLC with a node map, the XRD
instrument server) on loopback, and serial devices (MT-SICS balance, dosing head line protocol,
Eurotherm-style and Robotiq-style Modbus RTU) on pseudo-terminals. Device physics come from the
mock backend's models, so emulated and mock devices behave alike; only the transport is real.
Emulators bind 127.0.0.1 only. `powderlab emulate` runs them; tests start them in-process.
"""
