"""Signal processing in numpy alone, with no idea of a session: BS.1770 loudness and true peak, the
look-ahead peak limiter, band-limited resampling."""
