"""Payment stage: unpaid orders wait for the payment callback and are cancelled at their pay deadline."""
