"""STEGO-style feature-correlation distillation (Hamilton et al., ICLR 2022)."""
