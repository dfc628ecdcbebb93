"""People and what they may do: who is calling (``principal``), which accounts and roles that
gives them (``access``), users and their credentials (``users``), onboarding of accounts
(``onboarding``). Kept light: the authorizer imports ``people.principal`` on every cold start."""
