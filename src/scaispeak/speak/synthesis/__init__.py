"""Speech synthesis pipeline: text front end and audio back end."""
