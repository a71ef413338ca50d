"""Status checks: a fund asks whether an insured person is subject to a residence decision."""
