"""powderlab.drivers"""
