// Package scenarios owns versioned call scenarios: applications with their
// scenario files and routing rules, immutable numbered releases of them, and the
// lazy per-account rollout of releases (S11), all kept in its own buckets of the
// platform's bbolt file. It does not run scenarios; package runtime asks it which
// release an account's call should run.
package scenarios
