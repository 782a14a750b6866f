"""Infrastructure shared by every JARVIS service. It never imports a service."""
