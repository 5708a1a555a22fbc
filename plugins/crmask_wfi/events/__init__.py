"""X-ray events on frames: reconstruction, grades and the classic grade filter.

Modules
-------
grades
    Pixel patterns of 3 x 3 event windows and their grades.
reconstruct
    `reconstruct_events` (3 x 3 local maxima, grades, 5 x 5 ring),
    `add_truth`, FITS event files.
classic
    `ClassicGradeFilter`, registered as ``classic``.
"""
