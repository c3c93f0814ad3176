"""powderlab.autonomy"""
