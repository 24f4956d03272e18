import jax

# Tests compare against float64 references; float32 paths pass float32 inputs explicitly.
jax.config.update("jax_enable_x64", True)
