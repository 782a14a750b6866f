"""The kiosk simulator: N simulated kiosks that provision themselves through the registry's API,
connect to the gateway, heartbeat and now and then hold a text conversation.

`python -m session_gateway.kiosk_simulator --kiosks 5` (see docs/kiosk-simulator.md). The parts
are library-shaped so that benchmarks reuse them:

- `kiosk_connection.KioskConnection`: one kiosk WebSocket (welcome, heartbeats, a reader that
  routes session messages);
- `registry_client.RegistryClient` / `KioskTokens`: provisioning and access tokens over HTTP;
- `simulated_kiosk.SimulatedKiosk`: a kiosk's life (reconnect with backoff, resume);
- `fleet.Fleet`: provision or reuse N kiosks (state file), run them, stop gracefully.
"""
