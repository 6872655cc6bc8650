"""Small pieces shared by the emulators (HTTP serving, command-line start-up)."""
