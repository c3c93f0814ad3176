"""powderlab.core"""
