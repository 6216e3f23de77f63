"""The batch middleware's logic, importable without the SDK: which records a batch event
holds (`plan`), what the handler answered about them (`outcomes`), the configuration
(`config`), optional body decoding (`decode`) and where the plan waits between the hooks
(`store`). See ../README.md for the contract with the handler."""
