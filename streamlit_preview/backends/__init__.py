"""Where environments run: `kubernetes` (the real target) and `local` (processes here)."""
