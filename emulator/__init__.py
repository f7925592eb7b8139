"""Microsoft identity platform and Graph emulator for the Listening project."""
