"""What people are told (§Notifications): a change described in words and who hears of it
(``notify``), the mail itself (``mailer``, SES), and the "this wasn't me" link of every notice
(``report``)."""
