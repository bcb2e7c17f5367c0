"""Station keepers (驿站管理员): live station status, riders' corrections and suggestions."""
