package database

// MigrateFS lets the tests run migrations of their own.
var MigrateFS = migrateFS
